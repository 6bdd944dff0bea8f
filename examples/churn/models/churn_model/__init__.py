"""A tiny logistic regression in pure Python for the churn example."""
