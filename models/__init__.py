"""Model code: feature sets, estimators, walk-forward evaluation, MLflow pyfunc wrappers, promotion rules."""
