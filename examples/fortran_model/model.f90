! The Fortran version of model.c (same command line, same output); build.sh
! compiles it when gfortran is available, and model.c otherwise.
!
!     ./model '{"x":1.5,"y":-0.5}'
!
! argv(1) is the point as dhflow renders `{point:json}`: a flat JSON object.
! Number values are read, string/true/false/null values skipped; "x" and "y"
! are required. Writes metrics.json in the current working directory:
!
!     {"objective": 1.1312500000000000E+002, "x": ..., "y": ...}
!
! where objective is Himmelblau's f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2.
! Exit status: 0 on success, 2 on a bad argument, 3 when metrics.json cannot
! be written.
program model
    implicit none
    integer, parameter :: dp = kind(1.0d0)
    character(len=:), allocatable :: json
    character(len=64) :: key
    integer :: n, pos, status, unit
    real(dp) :: x, y, v, a, b, f
    logical :: have_x, have_y

    if (command_argument_count() /= 1) then
        write (0, '(a)') "usage: model '{""x"":1.5,""y"":-0.5}'"
        stop 2
    end if
    call get_command_argument(1, length=n)
    allocate (character(len=n) :: json)
    call get_command_argument(1, json)

    have_x = .false.
    have_y = .false.
    x = 0.0_dp
    y = 0.0_dp
    pos = 1
    call skip_ws()
    call expect('{')
    call skip_ws()
    if (peek() == '}') then
        pos = pos + 1
    else
        do
            call skip_ws()
            call read_string(key)
            call skip_ws()
            call expect(':')
            call skip_ws()
            select case (peek())
            case ('"')
                call read_string()
            case ('t')
                call literal('true')
            case ('f')
                call literal('false')
            case ('n')
                call literal('null')
            case ('-', '0':'9')
                call read_number(v)
                if (trim(key) == 'x') then
                    x = v
                    have_x = .true.
                else if (trim(key) == 'y') then
                    y = v
                    have_y = .true.
                end if
            case default
                call fail('expected a number, a string, true, false or null')
            end select
            call skip_ws()
            if (peek() == ',') then
                pos = pos + 1
            else if (peek() == '}') then
                pos = pos + 1
                exit
            else
                call fail("expected ',' or '}'")
            end if
        end do
    end if
    call skip_ws()
    if (pos <= n) call fail('trailing characters after the object')
    if (.not. (have_x .and. have_y)) then
        write (0, '(a)') 'model: the point needs numbers "x" and "y": ' // json
        stop 2
    end if

    a = x*x + y - 11.0_dp
    b = x + y*y - 7.0_dp
    f = a*a + b*b

    open (newunit=unit, file='metrics.json', status='replace', action='write', iostat=status)
    if (status /= 0) then
        write (0, '(a)') 'model: cannot write metrics.json'
        stop 3
    end if
    write (unit, '(7a)') '{"objective": ', num(f), ', "x": ', num(x), ', "y": ', num(y), '}'
    close (unit)
    write (*, '(5a)') 'himmelblau(', num(x), ', ', num(y), ') = ' // num(f) // ' (written to metrics.json)'

contains

    character function peek()
        if (pos <= n) then
            peek = json(pos:pos)
        else
            peek = achar(0)
        end if
    end function peek

    subroutine fail(what)
        character(len=*), intent(in) :: what
        write (0, '(a, i0, 2a)') 'model: ' // what // ' at offset ', pos - 1, &
            ' of the point argument: ', json
        stop 2
    end subroutine fail

    subroutine skip_ws()
        do while (pos <= n)
            if (index(' ' // achar(9) // achar(10) // achar(13), json(pos:pos)) == 0) exit
            pos = pos + 1
        end do
    end subroutine skip_ws

    subroutine expect(c)
        character, intent(in) :: c
        if (peek() /= c) call fail("expected '" // c // "'")
        pos = pos + 1
    end subroutine expect

    subroutine literal(word)
        character(len=*), intent(in) :: word
        if (pos + len(word) - 1 > n) call fail('bad literal')
        if (json(pos:pos + len(word) - 1) /= word) call fail('bad literal')
        pos = pos + len(word)
    end subroutine literal

    ! A JSON string at pos; its text (escapes kept as written) goes into out.
    subroutine read_string(out)
        character(len=*), intent(out), optional :: out
        integer :: k
        logical :: escaped
        if (peek() /= '"') call fail('expected a quoted string')
        pos = pos + 1
        k = 0
        escaped = .false.
        if (present(out)) out = ''
        do
            if (pos > n) call fail('unterminated string')
            if (json(pos:pos) == '"' .and. .not. escaped) exit
            escaped = json(pos:pos) == '\' .and. .not. escaped
            k = k + 1
            if (present(out)) then
                if (k <= len(out)) out(k:k) = json(pos:pos)
            end if
            pos = pos + 1
        end do
        pos = pos + 1
    end subroutine read_string

    subroutine read_number(value)
        real(dp), intent(out) :: value
        integer :: first, ios
        first = pos
        do while (pos <= n)
            if (index('+-0123456789.eE', json(pos:pos)) == 0) exit
            pos = pos + 1
        end do
        read (json(first:pos - 1), *, iostat=ios) value
        if (ios == 0) then
            if (abs(value) > huge(value) .or. value /= value) ios = 1  ! overflow, NaN
        end if
        if (ios /= 0) then
            pos = first
            call fail('bad number')
        end if
    end subroutine read_number

    ! A real as a JSON number, 17 significant digits.
    function num(value) result(text)
        real(dp), intent(in) :: value
        character(len=:), allocatable :: text
        character(len=32) :: buf
        write (buf, '(es24.16e3)') value
        text = trim(adjustl(buf))
    end function num

end program model
