-- T06 （七）环境管理体系认证证书: environmental management system certificates in force.
{{ target_fact('T06') }}
