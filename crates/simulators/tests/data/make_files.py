#!/usr/bin/env python3
"""Writes the small .npy and .csv files the loader tests read.

Run from this folder with numpy installed (`pip install numpy`):
    python3 make_files.py
The files are committed; rerunning must reproduce them byte for byte.
Values are multiples of 1/8, exact in float32 and float64 and in text.
"""

import numpy as np
from numpy.lib import format as npformat

N = 5
theta = np.array([[i / 8.0, -i / 4.0] for i in range(N)], dtype="<f8")
x = np.array([[i, i + 0.5, -i / 8.0] for i in range(N)], dtype="<f4")

np.save("theta_f8.npy", theta)
np.save("x_f4.npy", x)
with open("x_f4_v2.npy", "wb") as f:
    npformat.write_array(f, x, version=(2, 0))
with open("x_f4_v3.npy", "wb") as f:
    npformat.write_array(f, x, version=(3, 0))
np.save("x_1d_f8.npy", x[:, 0].astype("<f8"))
np.save("x_fortran.npy", np.asfortranarray(x.astype("<f8")))
np.save("x_i8.npy", x.astype("<i8"))
np.save("x_big_endian.npy", x.astype(">f8"))
np.save("x_3d.npy", np.zeros((N, 3, 1), dtype="<f8"))
np.save("x_scalar.npy", np.float64(1.5))
np.save("x_structured.npy", np.zeros(N, dtype=[("a", "<f8"), ("b", "<f8")]))
np.save("x_4_rows.npy", x[:4])
np.save("empty_0x3.npy", np.zeros((0, 3), dtype="<f8"))

both = np.hstack([theta, x.astype("<f8")])
header = "theta_1,theta_2,x_1,x_2,x_3"
np.savetxt("sims_savetxt.csv", both, delimiter=",", header=header)
np.save("sims_f8.npy", both)
