"""Domain rules as plain functions: no request objects, our own errors."""
