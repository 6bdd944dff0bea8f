"""Feature engineering for the churn example (a requirements.txt repo)."""
