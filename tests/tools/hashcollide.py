#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# SQL for N DNS answers (AAAA) whose addresses all land in one chain of query's name index
# when its address hash has no secret: mix() is inverted (golden/34, part 10).
import struct, sys
M = (1 << 64) - 1
C = 0xff51afd7ed558ccd
CI = pow(C, -1, 1 << 64)
def mix(h):
    h ^= h >> 33; h = (h * C) & M; h ^= h >> 33; return h
def unmix(h):
    h ^= h >> 33; h = (h * CI) & M; h ^= h >> 33; return h
n = int(sys.argv[1]); netns = 4026531840; host = 0
a = 0x20010db8  # first 8 bytes, little-endian load
inner = mix(a ^ ((host << 32) | netns))
print("BEGIN;")
for k in range(1, n + 1):
    b = unmix(k << 24) ^ inner
    addr = struct.pack("<QQ", a, b).hex()
    print(f"INSERT INTO dns VALUES({100000000 + k},{1795230600000000000 + k},1,17,6,X'00000000000000000000000000000001',40000,X'00000000000000000000000000000035',53,0,{k % 65536},'c.example',28,0);")
    print(f"INSERT INTO dns_answer VALUES({100000000 + k},28,'c.example',60,X'{addr}',NULL);")
print("COMMIT;")
