"""Factor risk model: style exposures, daily factor regression, covariance, specific risk."""
