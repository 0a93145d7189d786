"""Ways of producing one whole image version into a partial file (see `base.ImageSource`)."""
