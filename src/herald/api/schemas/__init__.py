"""Request and response models. Field names follow the PRD; they are the public API."""
