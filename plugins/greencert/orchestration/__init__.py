"""Orchestration: the DAG factories. DAG files in dags/ only call these; the work they schedule
lives in extract/, load/, quality/ and publish/, which do not import Airflow."""
