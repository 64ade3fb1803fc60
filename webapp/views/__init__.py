"""Views: thin functions that check, call one service and render or redirect."""
