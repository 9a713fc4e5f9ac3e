#!/usr/bin/env bash
# Lists the long units in libcore/ and tools/: functions over 60 lines and source files over 400
# lines (issue 8, "units of one screen"). A report for people, not a test: it always exits 0.
# Usage: scripts/long-units.sh [--fn N] [--file N] [path ...]   (default paths: libcore tools)
# A function is counted from the first line of its signature to its closing brace; the C++ is read
# by a brace counter that knows comments, strings and namespace/class scopes, not by a compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

fn_limit=60
file_limit=400
paths=()
while (($#)); do
  case $1 in
    --fn) fn_limit=$2; shift 2 ;;
    --file) file_limit=$2; shift 2 ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) paths+=("$1"); shift ;;
  esac
done
((${#paths[@]})) || paths=(libcore tools)

mapfile -t files < <(find "${paths[@]}" -type f \( -name '*.cc' -o -name '*.h' \) | sort)
python3 - "$fn_limit" "$file_limit" "${files[@]}" <<'PY'
import re
import sys

fn_limit, file_limit = int(sys.argv[1]), int(sys.argv[2])
SCOPE = re.compile(r'\b(namespace|class|struct|union|enum|extern)\b')
# `Foo() : a_{1}, b_(2) {`: the braces of a constructor's initializer list are not its body.
INIT_LIST = re.compile(r'\)\s*(?:noexcept\s*)?:(?!:).*[\w>]$')
NAME = re.compile(r'([~\w:]+(?:operator\s*\S+?)?)\s*\(')


def strip(text):
    """Blanks preprocessor lines, comments, string and char literals, keeping the newlines."""
    text = re.sub(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', '', text, flags=re.M)
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append('\n' * text.count('\n', i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(')' + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + '\n' * text.count('\n', i, j))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def functions(text):
    """Yields (first line, line count, name) for each function body outside another function."""
    stack = []  # per open brace: (kind, first line)
    header, header_line, line = '', None, 1
    for c in strip(text):
        if c == '\n':
            line += 1
        if c == '{':
            in_fn = any(kind not in ('scope', 'init') for kind, _, _ in stack)
            h = ' '.join(header.split())
            if in_fn:
                kind = 'block'
            elif SCOPE.search(h) and '(' not in h.split('{')[-1]:
                kind = 'scope'
            elif INIT_LIST.search(h):
                kind = 'init'
            elif '(' in h and not h.endswith('='):
                kind = 'fn'
            else:
                kind = 'block'
            stack.append((kind, header_line or line, h))
            if kind == 'init':
                header += c
            else:
                header, header_line = '', None
        elif c == '}':
            if stack:
                kind, start, h = stack.pop()
                if kind == 'init':
                    header += c
                    continue
                if kind == 'fn':
                    m = NAME.search(h.split('(')[0] + '(')
                    yield start, line - start + 1, (m.group(1) if m else h[:40])
            header, header_line = '', None
        elif c == ';':
            if not any(kind != 'scope' for kind, _, _ in stack):
                header, header_line = '', None
        else:
            if not c.isspace() and header_line is None:
                header_line = line
            header += c


long_fns, long_files = [], []
for path in sys.argv[3:]:
    text = open(path, encoding='utf-8', errors='replace').read()
    lines = text.count('\n')
    if lines > file_limit:
        long_files.append((lines, path))
    for start, count, name in functions(text):
        if count > fn_limit:
            long_fns.append((count, f'{path}:{start}', name))

print(f'functions over {fn_limit} lines: {len(long_fns)}')
for count, where, name in sorted(long_fns, reverse=True):
    print(f'  {count:5d}  {where}  {name}')
print(f'files over {file_limit} lines: {len(long_files)}')
for count, path in sorted(long_files, reverse=True):
    print(f'  {count:5d}  {path}')
PY
