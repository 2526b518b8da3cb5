"""A tiny model: reads its point (JSON) from argv[1], prints `DH-OUTPUT: <loss>`."""
import json
import math
import sys

point = json.loads(sys.argv[1])
x, depth, act = point["x"], point["depth"], point["act"]
squash = math.tanh if act == "tanh" else (lambda v: max(0.0, v))
loss = (x - 0.5) ** 2 + 0.1 * depth + 0.05 * abs(squash(x))
print(f"point {point}")
print(f"DH-OUTPUT: {loss:.6f}")
