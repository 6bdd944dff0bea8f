"""The local step store (``.mlrecipes/store/``) and ``store gc``."""
