"""Pure, vectorised analytics: DataFrames in, DataFrames out."""
