"""Operating an instance: backup, restore and checks (`flask ops ...`)."""
