#!/usr/bin/env python3
"""Rewraps the long text lines of roff man pages to at most 80 bytes, in place.

mandoc -T lint -W style notes every input text line over 80 bytes. In fill mode a line
break in the source is a space, so splitting such a line at a single space changes nothing
in the output, with three exceptions this script avoids: a break after the end of a
sentence (roff puts two spaces there), a continuation that would start with '.' or "'"
(a control line), and a space that is escaped ("\\ ") or part of a run of spaces. Lines of
no-fill blocks (.nf/.fi, .EX/.EE) and control lines are left as they are.

Usage: scripts/rewrap_man.py man/*.1 man/*.7   (then check that the output is unchanged:
tests/e2e/test_docs.sh formats every page before and after with mandoc and groff.)
"""
import re
import sys

LIMIT = 80
SENTENCE_END = re.compile(r'[.!?][)"\'\]*]*$')


def break_points(line):
    """Indexes of spaces where the line may be split without changing the output."""
    points = []
    for i, c in enumerate(line):
        if c != ' ' or i == 0 or i + 1 >= len(line):
            continue
        if line[i - 1] in ' \\' or line[i + 1] == ' ':
            continue
        if line[i + 1] in ".'":
            continue
        if SENTENCE_END.search(line[:i]):
            continue
        points.append(i)
    return points


def wrap(line):
    """The line as lines of at most LIMIT bytes where split points allow, of about equal
    length (a long line becomes two halves, not a full line and a word)."""
    out = []
    while len(line.encode()) > LIMIT:
        points = break_points(line)
        pieces = -(-len(line.encode()) // LIMIT)
        target = len(line) / pieces
        fitting = [p for p in points if len(line[:p].encode()) <= LIMIT]
        if fitting:
            cut = min(fitting, key=lambda p: abs(p - target))
        elif points:
            cut = points[0]  # no split point within the limit: the first one past it
        else:
            break
        out.append(line[:cut])
        line = line[cut + 1:]
    out.append(line)
    return out


def rewrap(text):
    lines = text.split('\n')
    out = []
    no_fill = False
    for line in lines:
        if line.startswith(('.nf', '.EX')):
            no_fill = True
        elif line.startswith(('.fi', '.EE')):
            no_fill = False
        if no_fill or line.startswith(('.', "'")) or len(line.encode()) <= LIMIT:
            out.append(line)
        else:
            out.extend(wrap(line))
    return '\n'.join(out)


def main(paths):
    for path in paths:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        new = rewrap(text)
        if new != text:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(new)


if __name__ == '__main__':
    main(sys.argv[1:])
