"""Relay connections over SageMaker's NextToken pages: which pages are read, where each cursor
resumes, and cursors that are refused."""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from app.sagemaker import ImagesPage, Page
from app.schema.connections import Connection, paginate, paginate_merged

ITEMS = [f"item-{number:02}" for number in range(25)]
PAGE = ImagesPage(sort_by="CREATION_TIME", sort_order="DESCENDING")


class Pages:
    """ListImages over :data:`ITEMS` as SageMaker pages them: a NextToken is an offset."""

    def __init__(self) -> None:
        self.asked: list[ImagesPage] = []

    async def __call__(self, page: ImagesPage) -> Page[str]:
        self.asked.append(page)
        start = int(page.next_token or 0)
        end = start + page.max_results
        return Page(ITEMS[start:end], str(end) if end < len(ITEMS) else None)


async def connection(
    pages: Pages, first: int, after: str | None = None, request: ImagesPage = PAGE
) -> Connection[str]:
    return await paginate(pages, request, first, after, str.upper, max_first=100)


def nodes(page: Connection[str]) -> list[str]:
    return [edge.node for edge in page.edges]


async def test_pages_follow_each_other_to_the_end() -> None:
    pages, seen = Pages(), []
    after = None
    while True:
        page = await connection(pages, first=10, after=after)
        seen += nodes(page)
        if not page.page_info.has_next_page:
            break
        after = page.page_info.end_cursor
    assert seen == [item.upper() for item in ITEMS]
    assert len(pages.asked) == 3


async def test_any_edge_cursor_resumes_right_after_its_edge() -> None:
    pages = Pages()
    first = await connection(pages, first=10)
    middle = first.edges[3].cursor
    resumed = await connection(pages, first=2, after=middle)
    assert nodes(resumed) == ["ITEM-04", "ITEM-05"]


async def test_a_page_end_cursor_resumes_with_that_pages_token_in_one_call() -> None:
    pages = Pages()
    first = await connection(pages, first=10)
    pages.asked.clear()
    await connection(pages, first=10, after=first.page_info.end_cursor)
    assert [page.next_token for page in pages.asked] == ["10"]


async def test_a_cursor_of_another_query_is_refused() -> None:
    pages = Pages()
    cursor = (await connection(pages, first=5)).page_info.end_cursor
    other = ImagesPage(sort_by="NAME", sort_order="ASCENDING")
    with pytest.raises(GraphQLError) as refused:
        await connection(pages, first=5, after=cursor, request=other)
    assert refused.value.extensions is not None
    assert refused.value.extensions["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("cursor", ["not base64!", "W251bGwsIDk5OTksICJ4Il0", "bnVsbA"])
async def test_a_cursor_that_does_not_decode_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(GraphQLError) as refused:
        await connection(Pages(), first=5, after=cursor)
    assert refused.value.extensions is not None
    assert refused.value.extensions["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_a_page_size_outside_the_limit_is_bad_user_input(first: int) -> None:
    with pytest.raises(GraphQLError, match="first must be from 1 to 100"):
        await connection(Pages(), first=first)


# Two targets' images as (creation order, name), each listing newest first as SageMaker sorts.
WEST = [(number * 2, f"west-{number:02}") for number in range(11)][::-1]
EAST = [(number * 3 + 1, f"east-{number:02}") for number in range(7)][::-1]
LISTINGS = {"west": WEST, "east": EAST}
REQUESTS = [
    ImagesPage(sort_by="CREATION_TIME", sort_order="DESCENDING", name_contains=name)
    for name in LISTINGS
]


class TargetPages:
    """ListImages of several targets (told apart here by ``name_contains``): a NextToken is an
    offset; a target in ``failing`` fails."""

    def __init__(self) -> None:
        self.failing: set[str] = set()

    async def __call__(self, page: ImagesPage) -> Page[tuple[int, str]]:
        assert page.name_contains is not None
        if page.name_contains in self.failing:
            raise RuntimeError(f"{page.name_contains} is down")
        items = LISTINGS[page.name_contains]
        start = int(page.next_token or 0)
        end = start + page.max_results
        return Page(items[start:end], str(end) if end < len(items) else None)


async def merged(
    pages: TargetPages, first: int, after: str | None = None
) -> tuple[Connection[str], list[tuple[int, Exception]]]:
    return await paginate_merged(
        pages,
        REQUESTS,
        first,
        after,
        order=lambda item: item[0],
        descending=True,
        to_node=lambda index, item: item[1],
        max_first=100,
    )


@pytest.mark.parametrize("first", [1, 3, 7])
async def test_a_merged_listing_visits_every_item_once_in_order(first: int) -> None:
    pages, seen, after = TargetPages(), [], None
    while True:
        page, failures = await merged(pages, first, after)
        assert failures == []
        assert len(page.edges) <= first
        seen += nodes(page)
        if not page.page_info.has_next_page:
            break
        after = page.page_info.end_cursor
    everything = sorted(WEST + EAST, reverse=True)
    assert seen == [name for _, name in everything]


async def test_any_merged_edge_cursor_resumes_right_after_its_edge() -> None:
    pages = TargetPages()
    page, _ = await merged(pages, first=6)
    resumed, _ = await merged(pages, first=2, after=page.edges[2].cursor)
    assert nodes(resumed) == nodes(page)[3:5]


async def test_a_target_that_fails_is_left_out_and_read_again_on_the_next_page() -> None:
    pages = TargetPages()
    pages.failing.add("east")
    page, failures = await merged(pages, first=4)
    assert nodes(page) == ["west-10", "west-09", "west-08", "west-07"]
    assert [(index, str(error)) for index, error in failures] == [(1, "east is down")]
    pages.failing.clear()
    resumed, failures = await merged(pages, first=2, after=page.page_info.end_cursor)
    assert failures == []
    assert nodes(resumed) == ["east-06", "east-05"]


async def test_a_merged_cursor_of_another_query_is_refused() -> None:
    page, _ = await merged(TargetPages(), first=2)
    with pytest.raises(GraphQLError, match="cursor `after` is not valid"):
        await paginate(Pages(), PAGE, 2, page.page_info.end_cursor, str.upper, max_first=100)
    with pytest.raises(GraphQLError, match="cursor `after` is not valid"):
        await merged(TargetPages(), first=2, after="bm9wZQ")
