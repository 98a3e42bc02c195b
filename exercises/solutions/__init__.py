"""The reference solutions, one module per exercise; each stub is this file with the bodies taken out."""
