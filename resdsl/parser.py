"""Text to syntax tree: the Lark grammar, loaded once, and its errors in the user's words."""

from __future__ import annotations

from functools import cache, lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from . import ast
from .diagnostics import Diagnostic, ResdslError
from .resources import grammar_path
from .source import SourceFile, Span

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
    """Where to keep the built parser: a private folder under the user's cache, if writable.

    ``RESDSL_CACHE_DIR`` chooses the folder; an empty value turns the cache off.
    """
    import hashlib
    import os

    from lark import __version__ as lark_version

    folder = os.environ.get("RESDSL_CACHE_DIR")
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "resdsl")
    if not folder:
        return None
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    key = hashlib.sha256(f"{lark_version}\0{grammar}".encode()).hexdigest()[:20]
    return os.path.join(folder, f"grammar-{key}.lark-cache")


def _token_span(path: str, tok: Token) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + 1
    if end_line != line or end_col <= col:  # newline tokens: point at the line end
        end_line, end_col = line, col + 1
    return Span(path, line, col, end_line, end_col)


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
            _token_span(src.path, tok),
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


def _span(path: str, meta: object) -> Span:
    return Span(
        path,
        getattr(meta, "line", 1),
        getattr(meta, "column", 1),
        getattr(meta, "end_line", 1),
        getattr(meta, "end_column", 2),
    )


@v_args(meta=True, inline=True)
class _Builder(Transformer):
    """Lark tree -> typed AST. Every grammar rule has a method here; a missing one is a bug."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def __default__(self, data, children, meta):  # type: ignore[no-untyped-def]
        raise NotImplementedError(f"no AST builder for grammar rule {data!r}")

    def _s(self, meta: object) -> Span:
        return _span(self.path, meta)

    def _ident(self, tok: Token) -> ast.Ident:
        return ast.Ident(str(tok), _token_span(self.path, tok))

    # expressions
    def int(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Int(self._s(meta), int(tok))

    def float(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Float(self._s(meta), float(tok))

    def size(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.SizeLit(self._s(meta), tuple(int(p) for p in str(tok).split("x")))

    def string(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Str(self._s(meta), str(tok)[1:-1])

    def name(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Name(self._s(meta), str(tok))

    def true(self, meta):  # type: ignore[no-untyped-def]
        return ast.Bool(self._s(meta), True)

    def false(self, meta):  # type: ignore[no-untyped-def]
        return ast.Bool(self._s(meta), False)

    def neg(self, meta, operand):  # type: ignore[no-untyped-def]
        return ast.Unary(self._s(meta), "-", operand)

    def not_(self, meta, operand):  # type: ignore[no-untyped-def]
        return ast.Unary(self._s(meta), "not", operand)

    def binary(self, meta, left, op, right):  # type: ignore[no-untyped-def]
        return ast.Binary(self._s(meta), str(op), left, right)

    compare = binary

    def and_(self, meta, left, right):  # type: ignore[no-untyped-def]
        return ast.Binary(self._s(meta), "and", left, right)

    def or_(self, meta, left, right):  # type: ignore[no-untyped-def]
        return ast.Binary(self._s(meta), "or", left, right)

    def cond(self, meta, then, test, orelse):  # type: ignore[no-untyped-def]
        return ast.Cond(self._s(meta), then, test, orelse)

    def dims(self, meta, *parts):  # type: ignore[no-untyped-def]
        return parts[0] if len(parts) == 1 else ast.SizeExpr(self._s(meta), tuple(parts))

    head_arg = dims

    # arguments and parameters
    def kwarg(self, meta, name, value):  # type: ignore[no-untyped-def]
        return ast.Arg(self._ident(name), value, self._s(meta))

    def arg_list(self, meta, *items):  # type: ignore[no-untyped-def]
        args = []
        for item in items:
            if item is None:
                continue
            if isinstance(item, ast.Arg):
                args.append(item)
            else:
                args.append(ast.Arg(None, item, item.span))
        return tuple(args)

    def param(self, meta, name, default):  # type: ignore[no-untyped-def]
        return ast.Param(self._ident(name), default, self._s(meta))

    def param_list(self, meta, *params):  # type: ignore[no-untyped-def]
        return tuple(p for p in params if p is not None)

    def call(self, meta, name, args):  # type: ignore[no-untyped-def]
        return ast.Call(self._ident(name), args or (), self._s(meta))

    # statements
    def input_stmt(self, meta, dims):  # type: ignore[no-untyped-def]
        return ast.Input(self._s(meta), dims)

    def classes_stmt(self, meta, value):  # type: ignore[no-untyped-def]
        return ast.Classes(self._s(meta), value)

    def shortcut_stmt(self, meta, value):  # type: ignore[no-untyped-def]
        return ast.Shortcut(self._s(meta), value)

    def stem_stmt(self, meta, call):  # type: ignore[no-untyped-def]
        return ast.Stem(self._s(meta), call)

    def head_stmt(self, meta, call):  # type: ignore[no-untyped-def]
        return ast.Head(self._s(meta), call)

    def stage_stride(self, meta, value):  # type: ignore[no-untyped-def]
        return ("stride", value)

    def stage_shortcut(self, meta, value):  # type: ignore[no-untyped-def]
        return ("shortcut", value)

    def stage_stmt(self, meta, name, count, call, *opts):  # type: ignore[no-untyped-def]
        options = dict(opts)
        return ast.Stage(
            self._s(meta),
            self._ident(name),
            count,
            call,
            options.get("stride"),
            options.get("shortcut"),
        )

    def let_stmt(self, meta, name, value):  # type: ignore[no-untyped-def]
        return ast.Let(self._s(meta), self._ident(name), value)

    def layer_stmt(self, meta, label, op, head, arrow, *kwargs):  # type: ignore[no-untyped-def]
        return ast.Layer(
            self._s(meta),
            self._ident(label) if label is not None else None,
            self._ident(op),
            head,
            arrow,
            tuple(kwargs),
        )

    def call_stmt(self, meta, label, op, args):  # type: ignore[no-untyped-def]
        return ast.Layer(
            self._s(meta),
            self._ident(label) if label is not None else None,
            self._ident(op),
            None,
            None,
            args or (),
            call_syntax=True,
        )

    def body(self, meta, *stmts):  # type: ignore[no-untyped-def]
        return tuple(stmts)

    # definitions
    def import_stmt(self, meta, target):  # type: ignore[no-untyped-def]
        text = str(target)
        is_path = target.type == "STRING"
        return ast.Import(text[1:-1] if is_path else text, is_path, self._s(meta))

    def block_def(self, meta, name, params, body):  # type: ignore[no-untyped-def]
        return ast.BlockDef(self._ident(name), params or (), body, self._s(meta))

    def network_def(self, meta, name, params, body):  # type: ignore[no-untyped-def]
        return ast.NetworkDef(self._ident(name), params or (), body, self._s(meta))

    def network_alias(self, meta, name, target, args):  # type: ignore[no-untyped-def]
        return ast.NetworkAlias(self._ident(name), self._ident(target), args or (), self._s(meta))

    def start(self, meta, *items):  # type: ignore[no-untyped-def]
        imports = tuple(i for i in items if isinstance(i, ast.Import))
        defs = tuple(i for i in items if not isinstance(i, ast.Import))
        return ast.Module(self.path, imports, defs)


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
    problem = _nesting_problem(src)
    if problem is not None:
        raise ResdslError([problem])
    try:
        tree = _parser().parse(src.text + "\n", start="start")
    except UnexpectedInput as err:
        raise ResdslError([_syntax_diagnostic(src, err)]) from None
    return _build(tree, src.path, src.text)


def parse_expression(text: str, path: str = "<command line>") -> ast.Expr:
    """Parse a single expression, as given to ``-D name=value``."""
    src = SourceFile(path, text)
    problem = _nesting_problem(src)
    if problem is not None:
        raise ResdslError([problem])
    try:
        tree = _parser().parse(text, start="expr")
    except UnexpectedInput as err:
        raise ResdslError([_syntax_diagnostic(src, err)]) from None
    return _build(tree, path, text)


def _build(tree, path, text=""):  # type: ignore[no-untyped-def]
    try:
        return _Builder(path).transform(tree)
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
