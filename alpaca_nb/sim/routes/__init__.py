"""The simulator's HTTP and WebSocket routes, one module per API family: trading (orders and
positions), account (account, clock, calendar, assets), analytics (history, activities, watchlists),
stocks and crypto market data, and the streams."""
