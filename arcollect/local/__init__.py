"""`arcollect local`: the whole system on one machine, with moto's server as the embedded AWS."""
