"""Text to syntax tree: the Lark grammar, loaded once, and its errors in the user's words."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

from . import ast
from .diagnostics import Diagnostic, ResdslError
from .resources import grammar_path
from .source import SourceFile, Span

if TYPE_CHECKING:  # lark is imported when a file must really be parsed (see cache.py)
    from lark import Lark, Token
    from lark.exceptions import UnexpectedInput

# Words for the grammar's terminals, as a user would say them.
_TERMINAL_WORDS = {
    "NAME": "an identifier",
    "INT": "an integer",
    "FLOAT": "a number",
    "DIMS": "a size such as `3x3`",
    "STRING": "a string",
    "_NL": "end of line",
    "$END": "end of file",
    "COMPOP": "a comparison",
    "ADDOP": "`+` or `-`",
    "MULOP": "`*`, `/` or `%`",
}
_OPERATORS = {"COMPOP", "ADDOP", "MULOP", "AND", "OR", "IF"}
_EXPRESSION_STARTS = {"NAME", "INT", "FLOAT", "DIMS", "STRING", "LPAR", "MINUS", "TRUE", "FALSE", "NOT"}

# Labels for common mistakes, matched by `UnexpectedInput.match_examples`.
_EXAMPLES: dict[str, list[str]] = {
    "a layer's output channels follow `->`, as in `conv 3x3 -> 64`": [
        "block b() {\n    conv 3x3 64\n}\n",
        "block b() {\n    c: conv 3x3 64\n}\n",
    ],
    "a stage repeats a block: `stage layer1: 3 x basic(64)`": [
        "network n {\n    stage layer1: basic(64)\n}\n",
        "network n {\n    stage layer1 3 x basic(64)\n}\n",
    ],
    "a definition starts with `block` or `network`": [
        "conv 3x3 -> 64\n",
        "relu\n",
    ],
    "a keyword argument follows the `,`, as in `conv 3x3 -> 64, stride = 2`": [
        "block b() {\n    conv 3x3 -> 64,\n}\n",
    ],
    "a block's body goes between braces: `block name(params) {`": [
        "block b()\n",
        "block b\n",
        "network n\n",
    ],
}


@cache
def _parser() -> Lark:
    """The LALR parser, built once per process.

    Building it from the grammar takes about 150 ms, most of ``resdsl check``'s time; Lark's
    cache stores the built tables in the user's cache folder (keyed by a hash of the grammar,
    the options and Lark's version, which Lark checks on load) and loads them in a few ms.
    """
    from lark import Lark

    grammar = grammar_path().read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        start=["start", "expr"],
        maybe_placeholders=True,
        cache=_cache_file(grammar) or False,
    )


def _cache_file(grammar: str) -> str | None:
    """Where to keep the built parser: the resdsl cache folder (see cache.py), if there is one."""
    import hashlib

    from lark import __version__ as lark_version

    from .cache import cache_dir

    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256(f"{lark_version}\0{grammar}".encode()).hexdigest()[:20]
    return str(folder / f"grammar-{key}.lark-cache")


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    return f"`{tok.value}`"


def _expected_words(expected: set[str]) -> str:
    parser = _parser()
    words: list[str] = []
    names = set(expected)
    if len(names & _EXPRESSION_STARTS) >= 4:
        names -= _EXPRESSION_STARTS
        words.append("an expression")
    if names & _OPERATORS:
        names -= _OPERATORS
        words.append("an operator")
    for name in sorted(names):
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            words.append(name.lower())
            continue
        words.append(f"`{pattern.value}`")
    words = sorted(set(words))
    if len(words) > 6:
        return "one of " + ", ".join(words[:6]) + ", ..."
    if len(words) > 1:
        return ", ".join(words[:-1]) + " or " + words[-1]
    return words[0] if words else ""


@cache
def _example_states() -> tuple[dict[tuple[int, str], str], dict[int, str]]:
    """Where each example's parse fails -> its label: by (parser state, token type), and by
    parser state alone where only one label fails in that state.

    Lark's own ``match_examples`` also compares the depth of the parser's stack, which depends
    on how many definitions and statements came before the error; the LALR state and the
    offending token are what identify the mistake.
    """
    from lark.exceptions import UnexpectedToken

    exact: dict[tuple[int, str], str] = {}
    by_state: dict[int, set[str]] = {}
    for label, examples in _EXAMPLES.items():
        for text in examples:
            try:
                _parser().parse(text, start="start")
            except UnexpectedToken as err:
                exact.setdefault((err.state.position, err.token.type), label)
                by_state.setdefault(err.state.position, set()).add(label)
    unique = {state: next(iter(labels)) for state, labels in by_state.items() if len(labels) == 1}
    return exact, unique


def _example_label(err: UnexpectedInput) -> str | None:
    from lark.exceptions import UnexpectedToken

    if not isinstance(err, UnexpectedToken) or err.state is None:
        return None
    exact, by_state = _example_states()
    state = err.state.position
    return exact.get((state, err.token.type)) or by_state.get(state)


def _unclosed_brace(src: SourceFile) -> Span | None:
    """The last `{` that no `}` closes (comments and strings skipped), if any."""
    opened: list[Span] = []
    for lineno, line in enumerate(src.text.split("\n"), 1):
        in_string = False
        for col, char in enumerate(line, 1):
            if char == '"':
                in_string = not in_string
            elif in_string:
                continue
            elif char == "#":
                break
            elif char == "{":
                opened.append(Span(src.path, lineno, col, lineno, col + 1))
            elif char == "}" and opened:
                opened.pop()
    return opened[-1] if opened else None


def _syntax_diagnostic(src: SourceFile, err: UnexpectedInput) -> Diagnostic:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    from .syntax_tree import token_span

    label = _example_label(err)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        expected = _expected_words(set(err.accepts or err.expected))
        if tok.type == "$END":
            brace = _unclosed_brace(src)
            notes = (f"the `{{` at {brace} is never closed",) if brace is not None else ()
            return Diagnostic(
                "E103",
                "unexpected end of file",
                src.end_span(),
                label="expected `}`" if brace is not None else f"expected {expected}" if expected else "",
                notes=notes,
                help=label or ("add the missing `}`" if brace is not None else None),
            )
        return Diagnostic(
            "E101",
            f"unexpected {_describe_token(tok)}",
            token_span(src.path, tok),
            label=f"expected {expected}" if expected else "",
            help=label,
        )
    if isinstance(err, UnexpectedCharacters):
        char = src.text[err.pos_in_stream] if err.pos_in_stream < len(src.text) else "?"
        shown = char if char.isprintable() else repr(char)[1:-1]
        span = Span(src.path, err.line, err.column, err.line, err.column + 1)
        help_text = _CHARACTER_HELP.get(char)
        return Diagnostic("E102", f"unexpected character `{shown}`", span, help=help_text)
    if isinstance(err, UnexpectedEOF):
        return Diagnostic("E103", "unexpected end of file", src.end_span())
    raise err


_CHARACTER_HELP = {
    '"': "strings hold only letters, digits, `_`, `.`, `/` and `-`, on one line",
    ";": "statements end at the end of a line; resdsl has no `;`",
    "[": "a size is written with `x`, as in `3x3` or `3 x 224 x 224`",
    "]": "a size is written with `x`, as in `3x3` or `3 x 224 x 224`",
    "*": "`*` multiplies two values; a size is written with `x`, as in `3x3`",
    "'": 'strings use double quotes, as in `import "family.res"`',
}


MAX_NESTING = 200


def _nesting_problem(src: SourceFile) -> Diagnostic | None:
    """Bracket nesting beyond MAX_NESTING would exhaust Python's stack in the tree walk."""
    depth = 0
    for lineno, line in enumerate(src.text.split("\n"), 1):
        for col, char in enumerate(line, 1):
            if char == "(":
                depth += 1
                if depth > MAX_NESTING:
                    span = Span(src.path, lineno, col, lineno, col + 1)
                    return Diagnostic(
                        "E106",
                        f"parentheses nested more than {MAX_NESTING} deep",
                        span,
                        help="name intermediate values with `let`",
                    )
            elif char == ")":
                depth = max(0, depth - 1)
    return None


def parse(src: SourceFile) -> ast.Module:
    """Parse one file. Raises ResdslError with a located diagnostic on a syntax error.

    Results are cached by (path, text): the AST is immutable, and the standard library is
    imported by nearly every spec that `check` reads.
    """
    return _parse_cached(src)


@lru_cache(maxsize=512)
def _parse_cached(src: SourceFile) -> ast.Module:
    from . import cache as disk

    module = disk.load(src.path, src.text)
    if isinstance(module, ast.Module):
        return module
    problem = _nesting_problem(src)
    if problem is not None:
        raise ResdslError([problem])
    from lark.exceptions import UnexpectedInput

    try:
        tree = _parser().parse(src.text + "\n", start="start")
    except UnexpectedInput as err:
        raise ResdslError([_syntax_diagnostic(src, err)]) from None
    module = _build(tree, src.path, src.text)
    disk.store(src.path, src.text, module)
    return module


def parse_expression(text: str, path: str = "<command line>") -> ast.Expr:
    """Parse a single expression, as given to ``-D name=value``."""
    src = SourceFile(path, text)
    problem = _nesting_problem(src)
    if problem is not None:
        raise ResdslError([problem])
    from lark.exceptions import UnexpectedInput

    try:
        tree = _parser().parse(text, start="expr")
    except UnexpectedInput as err:
        raise ResdslError([_syntax_diagnostic(src, err)]) from None
    return _build(tree, path, text)


def _build(tree, path, text=""):  # type: ignore[no-untyped-def]
    from lark.exceptions import VisitError

    from .syntax_tree import Builder

    try:
        return Builder(path).transform(tree)
    except VisitError as err:
        raise err.orig_exc from None
    except RecursionError:
        # A very long chain like `1 + 1 + ... + 1` nests the tree deeper than Python's stack.
        lines = text.splitlines() or [""]
        worst = max(range(len(lines)), key=lambda i: len(lines[i]))
        span = Span(path, worst + 1, 1, worst + 1, max(2, len(lines[worst]) + 1))
        raise ResdslError(
            [Diagnostic("E106", "expression nested too deeply", span, help="split it with `let`")]
        ) from None
