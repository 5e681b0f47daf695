from weft_step.testing import invoke

from app import {{Name}}


def test_greets_and_counts():
    ada = {"name": "Ada", "email": "ada@example.com"}
    out = invoke({{Name}}, "greet", {"customer": ada}, state={"greeted": 1})
    assert out.result == "Hello, Ada!"
    assert out.state == {"greeted": 2}
    assert out.events[0].type == "Greeted"
    assert out.events[0].data["summary"] == "welcome, you are greeting number 2"
