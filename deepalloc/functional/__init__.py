"""Pure torch functions: portfolio returns, measures, risk models, simplex maps."""
