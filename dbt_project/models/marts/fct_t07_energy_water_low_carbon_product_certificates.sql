-- T07 （七）节能节水低碳产品认证有效证书: energy-saving, water-saving and low-carbon product certificates in force.
{{ target_fact('T07') }}
