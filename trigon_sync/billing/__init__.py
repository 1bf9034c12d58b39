"""What is billed: the report of counts written to Uku, anomaly flags, and ``explain``.

Reads local records only; imports ``clients`` (to find a firm), ``store`` and the pure
packages; never the network or ``cli``.
"""
