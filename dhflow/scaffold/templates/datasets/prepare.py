"""Write data.csv (x,y rows) for one synthetic dataset into the working directory."""
import random
import sys

SHAPES = {"linear": lambda x: 2 * x + 1, "quadratic": lambda x: x * x - x, "noisy": lambda x: x}

name = sys.argv[1]
rng = random.Random(name)
with open("data.csv", "w") as f:
    for i in range(40):
        x = i / 10
        noise = rng.gauss(0, 0.5 if name == "noisy" else 0.05)
        f.write(f"{x},{SHAPES[name](x) + noise}\n")
print(f"prepared {name}: 40 rows in data.csv")
