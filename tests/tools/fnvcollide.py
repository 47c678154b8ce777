#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# N heads lines of store ID, valid checkpoint records of a segment not given (seg=99), whose
# plain FNV-1a hashes agree in their low 20 bits: verify's record index, an open-addressing
# table masked by its size, would put them all in one chain (golden/34, part 9). FNV-1a's low
# bits depend on low bits only, so the last 5 hex digits of the hash field are solved for.
import itertools
import sys

BITS = 20
MASK = (1 << BITS) - 1
P = 1099511628211
PI = pow(P, -1, 1 << BITS)
n, sid = int(sys.argv[1]), sys.argv[2]
back = {}  # state before 5 hex digits -> the digits that take it to 0
for t in itertools.product("0123456789abcdef", repeat=5):
    h = 0
    for c in reversed(t):
        h = ((h * PI) & MASK) ^ ord(c)
    back.setdefault(h, "".join(t))
out = k = 0
while out < n:
    k += 1
    pre = (f"connrec-anchor v=1 store={sid} kind=checkpoint seg=99 ck={k} t=1 rows=5 "
           f"w=conn:1 hash={'0' * 59}")
    h = 1469598103934665603 & MASK
    for c in pre.encode():
        h = ((h ^ c) * P) & MASK
    if h in back:
        print(f"Nov 26 00:00:00 h connrec: {pre}{back[h]}")
        out += 1
