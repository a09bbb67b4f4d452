"""Reading and writing catalog files (CSV, JSON, JSON Lines, Excel) for toolkit and portal."""
