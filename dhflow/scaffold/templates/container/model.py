"""A tiny trainer: reads its point (JSON) from argv[1], prints `DH-OUTPUT: <accuracy>`."""
import json
import math
import sys

point = json.loads(sys.argv[1])
lr, batch = point["lr"], point["batch_size"]
accuracy = 0.9 - 0.02 * (math.log10(lr) + 2) ** 2 - 0.0005 * abs(batch - 64)
print(f"point {point}")
print(f"DH-OUTPUT: {accuracy:.6f}")
