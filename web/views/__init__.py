"""One blueprint per area of the web app; each view calls the read layer and renders or serialises."""
