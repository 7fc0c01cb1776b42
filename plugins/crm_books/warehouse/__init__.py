"""The Books warehouse: engines, SQL files, migrations, bulk loads, timestamps."""
