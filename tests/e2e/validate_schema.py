#!/usr/bin/env python3
"""Validates NDJSON events on stdin against a JSON Schema.

Usage: validate_schema.py SCHEMA_FILE < events.ndjson

Prints one line per failing input line on stderr ("line N: ..."), then exits 1 if any
line failed or if there was no line at all, 0 otherwise (2 on a usage or schema error).
Blank lines are skipped but counted, so line numbers match the input.
"""

import json
import sys

import jsonschema


def main(argv):
    if len(argv) != 2:
        print("usage: validate_schema.py SCHEMA_FILE < ndjson", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        print(f"validate_schema: {argv[1]}: {e}", file=sys.stderr)
        return 2
    validator = validator_class(schema)

    lines = 0
    failed = 0
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        if not raw.strip():
            continue
        lines += 1
        try:
            event = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            failed += 1
            print(f"line {number}: invalid JSON: {e}", file=sys.stderr)
            continue
        errors = sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path))
        if errors:
            failed += 1
            reasons = "; ".join(
                "/".join(str(p) for p in e.absolute_path) + ": " + e.message
                if e.absolute_path else e.message
                for e in errors)
            print(f"line {number}: {reasons}", file=sys.stderr)

    if lines == 0:
        print("validate_schema: no events on stdin", file=sys.stderr)
        return 1
    if failed:
        print(f"validate_schema: {failed} of {lines} lines failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
