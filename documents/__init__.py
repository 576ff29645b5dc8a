"""The files the bot makes: charts (PNG), the rates report (CSV, XLSX, a terminal table) and the
pledge exports (XLSX, printable DOCX forms). Pure rendering: no database, no channel."""
