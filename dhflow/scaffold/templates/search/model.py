#!/usr/bin/env python3
"""polynome2: the objective of a point of ten integers is -(e0^2 + ... + e9^2).

Usage (what dhflow gives it, the point as one compact JSON argument):

    python3 model.py '{"e0":1,"e1":-3,...,"e9":0}'

prints `DH-OUTPUT: <objective>` for the rule's `objective: stdout("DH-OUTPUT")`.
"""
import json
import sys

point = json.loads(sys.argv[1])
print("DH-OUTPUT:", -sum(point[f"e{i}"] ** 2 for i in range(10)))
