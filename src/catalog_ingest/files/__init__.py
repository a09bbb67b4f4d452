"""Reading and writing catalog files (CSV, JSON, JSON Lines, Excel): shared by the toolkit and the portal."""
