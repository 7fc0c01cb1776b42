"""The potential workflow (potential_reconcile): settings, rules, store, reconcile, sensor."""
