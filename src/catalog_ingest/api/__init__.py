"""HTTP API: app factory, JWO and Merchant-Center routes, SigV4, limits, error mapping."""
