"""Active learning: model, STeW loss, uncertainty, clustering, selection, rounds."""
