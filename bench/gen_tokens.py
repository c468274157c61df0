#!/usr/bin/env python3
"""Writes N valid Portcullis API tokens for the scale benchmark (bench/scale.sh).

tokens.jsonl: one `portcullis token import` line per token (metadata and the SHA-256 digest,
never the secret); secrets.txt: the secrets themselves, one per line, for the load generator.
The format is DESIGN.md section 2: prefix, 32 random bytes in base62 (43 characters), CRC32 of
"<prefix>_<random part>" in base62 (6 characters).

Usage: gen_tokens.py N OUT_DIR [PREFIX]
"""
import hashlib
import json
import os
import sys
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number, width):
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    text = "".join(reversed(digits))
    return text.rjust(width, "0")


def main():
    count, out = int(sys.argv[1]), sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else "pcl"
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokens.jsonl"), "w") as tokens, open(os.path.join(out, "secrets.txt"), "w") as secrets:
        for i in range(count):
            body = f"{prefix}_{base62(int.from_bytes(os.urandom(32), 'big'), 43)}"
            secret = body + base62(zlib.crc32(body.encode()), 6)
            line = {
                "name": f"scale {i}",
                "description": "",
                "access": "read",
                "hint": f"{prefix}_…{secret[-4:]}",
                "digest": hashlib.sha256(secret.encode()).hexdigest(),
                "createdAt": "2026-11-29T00:00:00Z",
                "createdBy": None,
                "expiresAt": None,
                "revokedAt": None,
                "rateLimit": "off",
            }
            tokens.write(json.dumps(line, ensure_ascii=False) + "\n")
            secrets.write(secret + "\n")


if __name__ == "__main__":
    main()
