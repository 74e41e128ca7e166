"""Analysis of weight sequences and return series (pandas and NumPy, no torch).

``backtest`` simulates holding any weights through returns; ``metrics`` measures a
return series (quantstats/empyrical definitions).
"""
