"""The CUPS adapter against a real cupsd: what is printed, failures a person can act on."""

from __future__ import annotations

import hashlib

import pytest

from pvp.common.pdf import DocumentError, validate_pdf
from pvp.kiosk.printer import (
    JobState,
    Printer,
    PrinterProblem,
    PrintError,
    PrinterState,
    problems_from_reasons,
)
from testkit.devices import SAMPLE_TEXTS, CupsServer, FileQueue, page_texts
from testkit.ports import free_port


def queue_jobs(server: CupsServer, queue: str) -> dict[int, dict]:
    jobs = server.connection().getJobs(
        which_jobs="all", requested_attributes=["job-id", "job-state", "job-printer-uri"]
    )
    return {
        job_id: attrs
        for job_id, attrs in jobs.items()
        if attrs["job-printer-uri"].endswith("/printers/" + queue)
    }


def test_given_a_three_page_pdf_when_printed_then_the_device_gets_it_unchanged(
    pdf_queue: FileQueue, three_page_pdf: bytes
) -> None:
    printer = Printer(pdf_queue.name, pdf_queue.server)

    job = printer.print_pdf("cmd-print-1", three_page_pdf, timeout_s=30)

    assert job.state is JobState.COMPLETED
    written = pdf_queue.output.read_bytes()
    assert validate_pdf(written).pages == 3
    assert page_texts(written) == list(SAMPLE_TEXTS)
    assert validate_pdf(written).page_sizes == validate_pdf(three_page_pdf).page_sizes
    assert hashlib.sha256(written).digest() == hashlib.sha256(three_page_pdf).digest()
    assert printer.status().ready


def test_given_a_paused_printer_when_printing_then_it_fails_after_the_timeout_and_cancels(
    cups_server: CupsServer, pdf_queue: FileQueue, three_page_pdf: bytes
) -> None:
    printer = Printer(pdf_queue.name, pdf_queue.server)
    cups_server.connection().disablePrinter(pdf_queue.name)

    status = printer.status()
    assert status.state is PrinterState.STOPPED
    assert status.problems[0] is PrinterProblem.PAUSED
    assert status.reason == "imprimante en pause"
    assert not status.ready

    with pytest.raises(PrintError) as failure:
        printer.print_pdf("cmd-paused", three_page_pdf, timeout_s=1.0)
    assert str(failure.value) == "impression non terminée : imprimante en pause"
    assert failure.value.problem is PrinterProblem.PAUSED
    # Cancelled, so it cannot come out later in front of another citizen.
    job = printer.find_job("cmd-paused")
    assert job is not None and job.state is JobState.CANCELED
    assert not pdf_queue.output.exists()

    # Once resumed, the same command prints: its first job never did.
    cups_server.connection().enablePrinter(pdf_queue.name)
    retried = printer.print_pdf("cmd-paused", three_page_pdf, timeout_s=30)
    assert retried.state is JobState.COMPLETED and retried.id != job.id
    assert validate_pdf(pdf_queue.output.read_bytes()).pages == 3


def test_given_an_empty_tray_when_printing_then_plus_de_papier_is_reported(
    cups_server: CupsServer, empty_tray_queue: str, three_page_pdf: bytes
) -> None:
    printer = Printer(empty_tray_queue, cups_server.server)

    with pytest.raises(PrintError) as failure:
        printer.print_pdf("cmd-no-paper", three_page_pdf, timeout_s=2.0)

    assert str(failure.value) == "impression non terminée : plus de papier"
    assert failure.value.problem is PrinterProblem.MEDIA_EMPTY
    status = printer.status()
    assert status.reason == "plus de papier"
    assert "media-empty-error" in status.keywords
    assert not status.ready


def test_given_a_repeated_command_id_then_only_one_job_is_ever_made(
    cups_server: CupsServer, pdf_queue: FileQueue, three_page_pdf: bytes
) -> None:
    first = Printer(pdf_queue.name, pdf_queue.server).print_pdf("cmd-once", three_page_pdf)

    again = Printer(pdf_queue.name, pdf_queue.server).print_pdf("cmd-once", three_page_pdf)
    assert again.id == first.id
    assert len(queue_jobs(cups_server, pdf_queue.name)) == 1

    # An agent restart finds the job in CUPS's history, even across a cupsd restart.
    cups_server.restart()
    after_restart = Printer(pdf_queue.name, pdf_queue.server)
    found = after_restart.find_job("cmd-once")
    assert found is not None and (found.id, found.state) == (first.id, JobState.COMPLETED)
    assert after_restart.print_pdf("cmd-once", three_page_pdf).id == first.id
    assert len(queue_jobs(cups_server, pdf_queue.name)) == 1

    other = after_restart.print_pdf("cmd-other", three_page_pdf)
    assert other.id != first.id
    assert len(queue_jobs(cups_server, pdf_queue.name)) == 2


def test_given_a_queued_job_when_the_command_repeats_then_it_waits_for_that_job(
    cups_server: CupsServer, pdf_queue: FileQueue, three_page_pdf: bytes
) -> None:
    printer = Printer(pdf_queue.name, pdf_queue.server)
    cups_server.connection().disablePrinter(pdf_queue.name)
    queued = printer._submit("cmd-queued", three_page_pdf)
    cups_server.connection().enablePrinter(pdf_queue.name)

    job = printer.print_pdf("cmd-queued", three_page_pdf, timeout_s=30)

    assert job.id == queued
    assert len(queue_jobs(cups_server, pdf_queue.name)) == 1


def test_given_a_non_pdf_when_printing_then_it_is_refused_and_nothing_is_queued(
    cups_server: CupsServer, pdf_queue: FileQueue
) -> None:
    printer = Printer(pdf_queue.name, pdf_queue.server)

    with pytest.raises(DocumentError, match="le fichier n'est pas un PDF"):
        printer.print_pdf("cmd-text", b"bonjour")

    assert queue_jobs(cups_server, pdf_queue.name) == {}


def test_given_no_such_queue_then_the_printer_is_absent(
    cups_server: CupsServer, three_page_pdf: bytes
) -> None:
    printer = Printer("no-such-queue", cups_server.server)

    assert printer.status().reason == "imprimante absente"
    with pytest.raises(PrintError, match="imprimante absente"):
        printer.print_pdf("cmd-absent", three_page_pdf)


def test_given_no_cupsd_then_the_print_service_is_unavailable(three_page_pdf: bytes) -> None:
    printer = Printer("kiosk", f"127.0.0.1:{free_port()}")

    status = printer.status()
    assert status.problems == (PrinterProblem.UNREACHABLE,)
    assert status.reason == "service d'impression indisponible"
    with pytest.raises(PrintError, match="service d'impression indisponible"):
        printer.print_pdf("cmd-down", three_page_pdf)


@pytest.mark.parametrize("command_id", ["", "a b", "../etc", "é", "x" * 129])
def test_unsafe_command_ids_are_refused(command_id: str) -> None:
    with pytest.raises(ValueError):
        Printer("kiosk").find_job(command_id)


@pytest.mark.parametrize(
    ("keywords", "expected"),
    [
        (["none"], []),
        (["media-empty-error", "paused"], [PrinterProblem.MEDIA_EMPTY, PrinterProblem.PAUSED]),
        (["media-empty"], [PrinterProblem.MEDIA_EMPTY]),
        (["media-needed-error"], [PrinterProblem.MEDIA_EMPTY]),
        (["media-empty-warning"], [PrinterProblem.MEDIA_LOW]),
        (["media-jam-error"], [PrinterProblem.MEDIA_JAM]),
        (["offline-report"], [PrinterProblem.OFFLINE]),
        (["toner-low-warning"], [PrinterProblem.TONER_LOW]),
        (["marker-supply-empty-error"], [PrinterProblem.TONER_EMPTY]),
        (["door-open-error"], [PrinterProblem.DOOR_OPEN]),
        (["cups-insecure-filter-warning"], []),
        (["fuser-over-temp-error"], [PrinterProblem.ERROR]),
    ],
)
def test_printer_state_reasons_map_to_problems(
    keywords: list[str], expected: list[PrinterProblem]
) -> None:
    assert problems_from_reasons(keywords) == expected


def test_every_problem_has_a_french_reason() -> None:
    assert PrinterProblem.MEDIA_JAM.reason == "bourrage papier"
    assert PrinterProblem.OFFLINE.reason == "imprimante hors ligne"
    assert all(problem.reason for problem in PrinterProblem)
    assert not PrinterProblem.TONER_LOW.blocking
