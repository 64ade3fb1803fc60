"""Domain operations. Each takes a Session and the current time; none imports Pyramid."""
