#!/usr/bin/env python3
"""Fails when a wasm module imports `http_headers`, which `@extism/extism`
cannot link (bench/greet-guest/src/lib.rs says why that matters).

Usage: check_imports.py MODULE.wasm
"""

import sys


def leb128(data, at):
    """An unsigned LEB128 number at `at`: (value, position after it)."""
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def name(data, at):
    length, at = leb128(data, at)
    return data[at : at + length].decode("utf-8"), at + length


def imports(data):
    """(module, name) of every import in a wasm binary."""
    if data[:4] != b"\0asm":
        raise ValueError("not a wasm module")
    at = 8
    while at < len(data):
        section, at = data[at], at + 1
        size, at = leb128(data, at)
        if section != 2:  # the import section
            at += size
            continue
        count, at = leb128(data, at)
        found = []
        for _ in range(count):
            module, at = name(data, at)
            field, at = name(data, at)
            found.append((module, field))
            kind, at = data[at], at + 1
            if kind == 0:  # function: a type index
                _, at = leb128(data, at)
            elif kind == 1:  # table: element type, limits
                at += 1
                at = limits(data, at)
            elif kind == 2:  # memory: limits
                at = limits(data, at)
            elif kind == 3:  # global: value type, mutability
                at += 2
            else:
                raise ValueError(f"import `{module}::{field}` has unknown kind {kind}")
        return found
    return []


def limits(data, at):
    flags, at = data[at], at + 1
    _, at = leb128(data, at)
    if flags & 1:
        _, at = leb128(data, at)
    return at


def main():
    path = sys.argv[1]
    with open(path, "rb") as module:
        found = imports(module.read())
    bad = [f"{m}::{f}" for m, f in found if f == "http_headers"]
    if bad:
        sys.exit(f"{path}: imports `{bad[0]}`, which @extism/extism cannot link")
    print(f"{path}: {len(found)} imports, none of them `http_headers`")


if __name__ == "__main__":
    main()
