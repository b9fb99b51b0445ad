"""Docker build contexts of the images a liminal.yml declares."""
