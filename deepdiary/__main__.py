from deepdiary.cli import app

app(prog_name="deepdiary")
