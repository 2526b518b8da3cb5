"""Fit a polynomial of a given degree with a ridge penalty to ./data.csv (linked by Balsam
from the prepare task's working directory) and print `DH-OUTPUT: <R^2>`."""
import sys

dataset, degree, ridge = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rows = [tuple(map(float, line.split(","))) for line in open("data.csv")]
xs, ys = [r[0] for r in rows], [r[1] for r in rows]
n = degree + 1
# normal equations (X^T X + ridge I) w = X^T y, solved by Gaussian elimination
a = [[sum(x ** (i + j) for x in xs) + (ridge if i == j else 0.0) for j in range(n)] for i in range(n)]
b = [sum(y * x ** i for x, y in zip(xs, ys)) for i in range(n)]
for c in range(n):
    p = max(range(c, n), key=lambda r: abs(a[r][c]))
    a[c], a[p], b[c], b[p] = a[p], a[c], b[p], b[c]
    for r in range(c + 1, n):
        f = a[r][c] / a[c][c]
        a[r] = [u - f * v for u, v in zip(a[r], a[c])]
        b[r] -= f * b[c]
w = [0.0] * n
for r in reversed(range(n)):
    w[r] = (b[r] - sum(a[r][k] * w[k] for k in range(r + 1, n))) / a[r][r]
pred = [sum(w[i] * x ** i for i in range(n)) for x in xs]
mean = sum(ys) / len(ys)
r2 = 1 - sum((y - q) ** 2 for y, q in zip(ys, pred)) / sum((y - mean) ** 2 for y in ys)
print(f"{dataset}: degree {degree}, ridge {ridge:.4g}, {len(rows)} rows")
print(f"DH-OUTPUT: {r2:.6f}")
