"""Reading runs and structure: phases and outcomes, sensitivity, MICMAC, loops, trends, units."""
