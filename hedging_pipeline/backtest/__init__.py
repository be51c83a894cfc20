"""Walk-forward backtest of hedges: test windows and out-of-sample risk-reduction metrics."""
