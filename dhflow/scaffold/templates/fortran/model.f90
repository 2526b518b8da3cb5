! Himmelblau's function at (x, y) from the command line; writes metrics.json here.
program model
    implicit none
    character(len=64) :: arg
    double precision :: x, y, f
    integer :: unit
    call get_command_argument(1, arg)
    read (arg, *) x
    call get_command_argument(2, arg)
    read (arg, *) y
    f = (x**2 + y - 11d0)**2 + (x + y**2 - 7d0)**2
    open (newunit=unit, file="metrics.json", status="replace", action="write")
    write (unit, '(a, es24.16, a)') '{"objective": ', f, '}'
    close (unit)
    print '(a, es24.16)', 'f = ', f
end program model
