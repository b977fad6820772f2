"""The course page shows the outline: every module and lesson, with the lesson count."""


def test_course_page_lists_modules_and_lessons(
    client, login, create_user, create_firm, create_course
):
    firm = create_firm()
    course = create_course(firm, lessons=3, quiz=True, practical=True)
    login(create_user(role="worker", firm=firm, locale="en"))
    page = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    assert "模块一" in page
    for title in ("第1课", "第2课", "第3课", "测验", "实操"):
        assert title in page
    assert "<dt>Lessons</dt><dd>5</dd>" in page
